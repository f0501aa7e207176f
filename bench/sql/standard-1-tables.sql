-- The "standard" case: the tables of the reference harness (../shared/bench/dataset.sh), created without
-- indexes (loading is faster without them; standard-4-constraints.sql adds them).
create table branches (
  bid     int  not null,
  bname   text not null,
  city    text,
  opened  date
);
create table categories (
  id        int  not null,
  name      text not null,
  parent_id int
);
create table settings (
  key        text not null,
  value      jsonb,
  updated_at timestamptz not null default now()
);
create table accounts (          -- same shape as pgbench_accounts
  aid      int not null,
  bid      int not null,
  abalance int not null,
  filler   char(84)
);
create table wide (
  id          bigserial,
  customer_id int not null,
  category_id int,
  ext_id      uuid not null,
  name        text not null,
  email       text,
  status      text not null,
  amount      numeric(12,2),
  ratio       numeric,
  qty         int,
  score       double precision,
  created_at  timestamptz not null,
  updated_at  timestamptz,
  birth_date  date,
  is_active   boolean,
  flags       smallint,
  tags        int[],
  attrs       jsonb,
  payload     bytea,
  note        text
);
create table documents (
  doc_id     int not null,
  wide_id    bigint,
  title      text not null,
  lang       text,
  body       text not null,
  created_at timestamptz not null
);

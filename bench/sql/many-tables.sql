-- The "many-tables" case: 1,000 small tables in schema "many", each with a serial key (so a sequence),
-- a foreign key to many.groups and a secondary index: what per-table overhead costs.
-- The harness runs this file, then `select pg_temp.make_tables(first, last, :n_rows)` for 50 tables at a
-- time, each in its own transaction (1,000 tables in one would need ~6,000 locks).
--   psql -v n_rows=1000 -f many-tables.sql -c 'select pg_temp.make_tables(1, 50, 1000)' ...
create schema many;
create table many.groups (id int primary key, name text not null);
insert into many.groups select g, 'group ' || g from generate_series(1, 100) g;
select setseed(0.44);
create function pg_temp.make_tables(first int, last int, n_rows int) returns void language plpgsql as $$
declare
  t text;
begin
  for i in first .. last loop
    t := format('many.%I', 't' || lpad(i::text, 4, '0'));
    execute format('create table %s (id serial primary key, group_id int not null references many.groups (id),
                    code text not null, amount numeric(10,2), created_at timestamptz not null)', t);
    execute format($f$insert into %s (group_id, code, amount, created_at)
                      select 1 + (g * 7 + %s) %% 100, md5(%L || g), round((random() * 1000)::numeric, 2),
                             timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
                        from generate_series(1, %s) g$f$, t, i, t, n_rows);
    execute format('create index on %s (created_at)', t);
  end loop;
end $$;

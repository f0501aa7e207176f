-- accounts: pgbench_accounts-like narrow rows. psql -v n_acc=4000000 -v n_br=1000 -f standard-3-accounts.sql
select setseed(0.22);
insert into accounts
select g, 1 + (g - 1) % :n_br, (random() * 2000000)::int - 1000000, ''
  from generate_series(1, :n_acc) g;

-- The small tables of the "standard" case. psql -v n_br=1000 -f standard-2-small.sql
select setseed(0.11);
insert into branches
select g, 'branch ' || g, (array['Paris','Berlin','Lisbon','Oslo','Rome','Madrid'])[1 + g % 6],
       date '2000-01-01' + (random() * 8000)::int
  from generate_series(1, :n_br) g;
insert into categories select g, 'category ' || g, case when g > 10 then 1 + g % 10 end
  from generate_series(1, 100) g;
insert into settings (key, value, updated_at)
select 'setting.' || g, jsonb_build_object('enabled', g % 2 = 0, 'level', g, 'name', 'opt' || g),
       timestamptz '2024-01-01 00:00:00+00' + g * interval '1 hour'
  from generate_series(1, 20) g;

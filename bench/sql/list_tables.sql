-- The user tables of a database, biggest first (tablehaul's own bookkeeping schema left out).
select format('%I.%I', n.nspname, c.relname) as object,
       pg_table_size(c.oid)::text as definition
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
 where c.relkind in ('r', 'p')
   and n.nspname not in ('information_schema', 'tablehaul')
   and n.nspname !~ '^pg_'
 order by pg_table_size(c.oid) desc, 1

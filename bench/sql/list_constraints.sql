-- Primary keys, unique, check, foreign key and exclusion constraints of the user tables.
select format('%I.%I %I', n.nspname, c.relname, k.conname) as object,
       pg_get_constraintdef(k.oid) as definition
  from pg_constraint k
  join pg_class c on c.oid = k.conrelid
  join pg_namespace n on n.oid = c.relnamespace
 where n.nspname not in ('information_schema', 'tablehaul') and n.nspname !~ '^pg_'
 order by 1

-- The indexes of the user tables, with their full definitions.
select format('%I.%I %I', n.nspname, t.relname, i.relname) as object,
       pg_get_indexdef(i.oid) as definition
  from pg_index x
  join pg_class i on i.oid = x.indexrelid
  join pg_class t on t.oid = x.indrelid
  join pg_namespace n on n.oid = t.relnamespace
 where n.nspname not in ('information_schema', 'tablehaul') and n.nspname !~ '^pg_'
 order by 1

-- Every column of the user tables: type, nullability, default, identity and generation.
select format('%I.%I.%I', n.nspname, c.relname, a.attname) as object,
       concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                 case when a.attnotnull then 'not null' end,
                 'default ' || pg_get_expr(d.adbin, d.adrelid),
                 nullif(format('identity %s', a.attidentity), 'identity '),
                 nullif(format('generated %s', a.attgenerated), 'generated ')) as definition
  from pg_attribute a
  join pg_class c on c.oid = a.attrelid
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
 where c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
   and n.nspname not in ('information_schema', 'tablehaul') and n.nspname !~ '^pg_'
 order by 1

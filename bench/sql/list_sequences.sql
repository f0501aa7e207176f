-- Every sequence with its value: a copy must carry the values, not only the definitions.
select format('%I.%I', schemaname, sequencename) as object,
       format('%s %s..%s by %s, last value %s', data_type, min_value, max_value, increment_by,
              coalesce(last_value::text, 'none')) as definition
  from pg_sequences
 where schemaname not in ('information_schema', 'tablehaul')
 order by 1

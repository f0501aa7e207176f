-- wide (20 mixed columns, ~10 % NULLs) and documents (TOASTed text bodies).
-- psql -v n_wide=1000000 -v n_docs=8000 -f standard-3-wide-documents.sql
select setseed(0.33);
insert into wide (id, customer_id, category_id, ext_id, name, email, status, amount, ratio, qty, score,
                  created_at, updated_at, birth_date, is_active, flags, tags, attrs, payload, note)
select g,
       (random() * 200000)::int,
       case when random() < 0.1 then null else 1 + (random() * 99)::int end,
       md5('ext' || g)::uuid,
       'Customer ' || g || ' ' || substr(md5(g::text), 1, 8),
       case when random() < 0.1 then null else 'user' || g || '@example.com' end,
       (array['new','active','active','active','suspended','closed'])[1 + (random() * 5)::int],
       case when random() < 0.1 then null else round((random() * 100000)::numeric, 2) end,
       case when random() < 0.1 then null else round((random() * 1000)::numeric, 6) end,
       case when random() < 0.1 then null else (random() * 500)::int end,
       case when random() < 0.1 then null else random() * 100 end,
       timestamptz '2020-01-01 00:00:00+00' + random() * interval '1500 days',
       case when random() < 0.1 then null else timestamptz '2024-01-01 00:00:00+00' + random() * interval '300 days' end,
       case when random() < 0.1 then null else date '1950-01-01' + (random() * 20000)::int end,
       case when random() < 0.1 then null else random() < 0.7 end,
       (random() * 255)::smallint,
       case when random() < 0.1 then null
            else array[(random() * 1000)::int, (random() * 1000)::int, g % 97] end,
       case when random() < 0.1 then null
            else jsonb_build_object('src', 'gen', 'n', g, 'score', round(random()::numeric, 4),
                                    'tags', jsonb_build_array('a', 'b', (g % 13)::text),
                                    'addr', jsonb_build_object('zip', lpad((g % 99999)::text, 5, '0'), 'cc', 'FR')) end,
       case when random() < 0.1 then null else decode(md5(g::text) || md5((g + 1)::text), 'hex') end,
       case when random() < 0.1 then null else repeat('lorem ipsum dolor ', 1 + (random() * 6)::int) end
  from generate_series(1, :n_wide) g;
select setval('wide_id_seq', :n_wide);
-- documents: bodies of 50..850 md5 words (~1.6-28 kB); random hex does not compress, so the values go
-- out of line to the TOAST table uncompressed
insert into documents
select g,
       case when random() < 0.1 then null else 1 + (g * 37) % greatest(:n_wide, 1) end,
       'Document ' || g,
       (array['en','fr','de','pt'])[1 + g % 4],
       (select string_agg(md5(random()::text || g || w), ' ') from generate_series(1, 50 + (g * 7919) % 800) w),
       timestamptz '2022-01-01 00:00:00+00' + g * interval '1 minute'
  from generate_series(1, :n_docs) g;

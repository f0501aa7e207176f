-- The "huge-values" case: a few rows of 100+ MB each (memory must grow with the largest value only).
-- Random bytes and random hex do not compress, so the values are stored (and copied) at full size.
--   psql -v n_blobs=3 -v blob_mb=128 -v text_mb=100 -f huge-values.sql
create table blobs (id int primary key, name text not null, body bytea not null);
create table big_texts (id int primary key, body text not null);
select setseed(0.55);
-- :blob_mb MiB per value: 65,536 md5 digests of 16 bytes each per MiB
insert into blobs
select i, 'blob ' || i,
       (select decode(string_agg(md5(random()::text || i || g), ''), 'hex')
          from generate_series(1, :blob_mb * 65536) g)
  from generate_series(1, :n_blobs) i;
-- :text_mb MiB of hex text: 32,768 md5 digests of 32 characters each per MiB
insert into big_texts
select 1, (select string_agg(md5(random()::text || g), '') from generate_series(1, :text_mb * 32768) g);

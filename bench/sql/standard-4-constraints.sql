-- Keys, foreign keys, a check constraint and secondary indexes: what a correct copy must reproduce.
alter table branches   add primary key (bid);
alter table categories add primary key (id);
alter table settings   add primary key (key);
alter table accounts   add primary key (aid);
alter table wide       add primary key (id);
alter table documents  add primary key (doc_id);
alter table categories add constraint categories_parent_fk foreign key (parent_id) references categories (id);
alter table accounts   add constraint accounts_bid_fk      foreign key (bid) references branches (bid);
alter table wide       add constraint wide_category_fk     foreign key (category_id) references categories (id);
alter table documents  add constraint documents_wide_fk    foreign key (wide_id) references wide (id);
alter table wide       add constraint wide_status_check    check (status in ('new','active','suspended','closed'));
create index accounts_bid_idx      on accounts (bid);
create index wide_customer_idx     on wide (customer_id);
create index wide_created_idx      on wide (created_at);
create unique index wide_ext_id_key on wide (ext_id);
create index documents_wide_idx    on documents (wide_id);

-- ctx: tx=0
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;
ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_id_idx;
CREATE TABLE IF NOT EXISTS fresh (id bigint, code text);
ALTER TABLE fresh ADD PRIMARY KEY (id);
ALTER TABLE fresh ADD CONSTRAINT u UNIQUE (code);

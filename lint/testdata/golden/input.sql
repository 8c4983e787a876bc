-- A migration with a bit of everything, for the output format tests.
CREATE TABLE tags (id bigint PRIMARY KEY, label text);
CREATE INDEX tags_label ON tags (label);

ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
	ALTER TABLE users ALTER COLUMN name TYPE varchar(20); -- indented with a tab
/* é */ ALTER TABLE "usérs" ALTER COLUMN email SET NOT NULL;
ALTER TABLE users DROP COLUMN legacy; -- strata:ignore SA018 unused since v2.3
SELEC 1;
CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email);

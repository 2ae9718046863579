-- ctx: tx=0
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS a text DEFAULT upper('x');
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS b timestamptz DEFAULT now();
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS c int DEFAULT coalesce(NULL, 0);
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS d text DEFAULT current_setting('app.x');
CREATE TABLE IF NOT EXISTS fresh (id bigint PRIMARY KEY);
ALTER TABLE fresh ADD COLUMN IF NOT EXISTS e int DEFAULT my_func();

-- ctx: tx=0
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS a text DEFAULT my_func(); -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS b text DEFAULT app.make_code(8); -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS c int DEFAULT coalesce(f(1), 0); -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS d text DEFAULT upper(g()); -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS e int DEFAULT CASE WHEN h() THEN 1 ELSE 0 END; -- expect

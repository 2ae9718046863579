-- ctx: tx=0
ALTER TABLE accounts ADD CONSTRAINT c1 CHECK (balance >= 0); -- expect
ALTER TABLE orders ADD CONSTRAINT fk1 FOREIGN KEY (account_id) REFERENCES accounts (id); -- expect
ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users; -- expect
ALTER TABLE app.items ADD CONSTRAINT c2 CHECK (qty > 0 AND qty < 100); -- expect
ALTER TABLE orders ADD COLUMN IF NOT EXISTS user_id bigint REFERENCES users (id); -- expect
ALTER TABLE orders ADD COLUMN IF NOT EXISTS qty int CHECK (qty > 0); -- expect

-- ctx: tx=0
DELETE FROM users WHERE id = 1;
DELETE FROM app.orders WHERE created_at < now() - interval '1 year';
DELETE FROM users u USING orders o WHERE o.user_id = u.id;
CREATE TABLE IF NOT EXISTS fresh (id bigint PRIMARY KEY);
DELETE FROM fresh;

-- ctx: phase=contract stage=post
-- In a contract step, emptying the table is what the step is for.
TRUNCATE legacy_carts;
TRUNCATE TABLE app.old_events;
DELETE FROM users WHERE id < 1000;
CREATE TABLE IF NOT EXISTS scratch (id bigint PRIMARY KEY);
TRUNCATE scratch;

-- ctx: tx=0
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email); -- expect
ALTER TABLE users ADD PRIMARY KEY (id); -- expect
ALTER TABLE app.orders ADD CONSTRAINT pk PRIMARY KEY (id, line); -- expect
ALTER TABLE users ADD COLUMN IF NOT EXISTS code text UNIQUE; -- expect
ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&); -- expect

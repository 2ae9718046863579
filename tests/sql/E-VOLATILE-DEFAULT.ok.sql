-- ctx: tx=0
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS a timestamptz DEFAULT now();
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS b timestamptz DEFAULT current_timestamp;
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS c int DEFAULT 0;
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS d text DEFAULT 'x' || 'y';
ALTER TABLE accounts ALTER COLUMN e SET DEFAULT gen_random_uuid();
CREATE TABLE IF NOT EXISTS fresh (id bigserial PRIMARY KEY);
ALTER TABLE fresh ADD COLUMN IF NOT EXISTS f uuid DEFAULT gen_random_uuid();
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS g jsonb DEFAULT '{}'::jsonb;

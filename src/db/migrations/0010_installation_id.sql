-- This installation's id, made once, here, and kept (the table is 0009's). Every droplet
-- berth creates carries it as a tag, `berth-install:<id>`, and the reconciler lists and
-- destroys only droplets with that tag: two berths with their own databases on one
-- DigitalOcean token (staging and production) destroyed each other's droplets, each
-- taking the other's for orphans of its own. Every berth process on this database reads
-- the same row, so they are one installation; a copy of the database is one too.
--
-- Made in the migration, so that it exists before any process reads it and no two
-- processes starting together can make two (migrations run one at a time, under a lock);
-- `berth serve` makes it again only if the row was deleted by hand.
--
-- Service-only, like the rate ledger: row-level security on with no policy, and no grant
-- to the API roles (on Supabase default privileges grant every new table to them).
--
-- Every statement can run twice: the insert keeps an existing row, RLS and the grants
-- are stated again.
INSERT INTO public.berth_installation (singleton) VALUES (true) ON CONFLICT (singleton) DO NOTHING;
--> statement-breakpoint
ALTER TABLE public.berth_installation ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
REVOKE ALL ON public.berth_installation FROM anon, authenticated, berth_user, service_role;
--> statement-breakpoint
GRANT SELECT, INSERT ON public.berth_installation TO service_role;

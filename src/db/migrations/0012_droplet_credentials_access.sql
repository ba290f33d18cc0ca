-- Who may touch droplet credentials (the table is 0011's): berth's services only. The
-- droplet-facing API resolves a credential as a named service access; no user reads
-- or writes one, not even their own droplet's (a hash would still let its holder test
-- guesses offline, and a user has no use for it). The Data API roles get nothing.
--
-- Service-only, like the installation row and the rate ledger: row-level security on
-- with no policy, and no grant to the API roles (on Supabase default privileges grant
-- every new table to them).
--
-- Every statement can run twice: RLS and the grants are stated again.
ALTER TABLE public.droplet_credentials ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
REVOKE ALL ON public.droplet_credentials FROM anon, authenticated, berth_user, service_role;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON public.droplet_credentials TO service_role;

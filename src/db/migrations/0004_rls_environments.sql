-- Row-level security and grants for the tables of 0003. Environments belong to their
-- user like agents do. Onboarding progress is readable by its user and written only by
-- berth's services. The DigitalOcean call ledger and the embedded sign-in's refresh
-- tokens are service-only: RLS on with no policy for `authenticated` means no rows.
ALTER TABLE public.agent_droplets ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.user_onboarding ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.do_api_calls ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.auth_refresh_tokens ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
DROP POLICY IF EXISTS agent_droplets_owner ON public.agent_droplets;
--> statement-breakpoint
CREATE POLICY agent_droplets_owner ON public.agent_droplets FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
--> statement-breakpoint
DROP POLICY IF EXISTS user_onboarding_read_own ON public.user_onboarding;
--> statement-breakpoint
CREATE POLICY user_onboarding_read_own ON public.user_onboarding FOR SELECT TO authenticated
  USING (user_id = auth.uid());
--> statement-breakpoint
REVOKE ALL ON public.agent_droplets, public.user_onboarding, public.do_api_calls, public.auth_refresh_tokens
  FROM anon, authenticated, service_role;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON public.agent_droplets TO authenticated, service_role;
--> statement-breakpoint
GRANT SELECT ON public.user_onboarding TO authenticated;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON public.user_onboarding, public.do_api_calls, public.auth_refresh_tokens
  TO service_role;

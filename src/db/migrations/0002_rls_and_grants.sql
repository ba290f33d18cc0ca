-- Row-level security and grants for the tables of 0001. Every table that holds a
-- user's rows has RLS enabled, with policies keyed on auth.uid(); berth runs
-- every user query as the role `authenticated` with the user's claims set, so these
-- policies, not application code, decide what a user can see. `service_role` bypasses
-- RLS and is used only at call sites that name why.
ALTER TABLE public.user_ssh_keys ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.agents ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.vault_secrets ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE public.ssh_key_audit_log ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
DROP POLICY IF EXISTS user_ssh_keys_owner ON public.user_ssh_keys;
--> statement-breakpoint
CREATE POLICY user_ssh_keys_owner ON public.user_ssh_keys FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
--> statement-breakpoint
DROP POLICY IF EXISTS agents_owner ON public.agents;
--> statement-breakpoint
CREATE POLICY agents_owner ON public.agents FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
--> statement-breakpoint
-- A user may hold their own ciphertexts (useless without the master keys), which lets a
-- key and its secret be written in one user transaction: both or neither.
DROP POLICY IF EXISTS vault_secrets_owner ON public.vault_secrets;
--> statement-breakpoint
CREATE POLICY vault_secrets_owner ON public.vault_secrets FOR ALL TO authenticated
  USING (owner_id = auth.uid()) WITH CHECK (owner_id = auth.uid());
--> statement-breakpoint
DROP POLICY IF EXISTS ssh_key_audit_log_read_own ON public.ssh_key_audit_log;
--> statement-breakpoint
CREATE POLICY ssh_key_audit_log_read_own ON public.ssh_key_audit_log FOR SELECT TO authenticated
  USING (user_id = auth.uid());
--> statement-breakpoint
DROP POLICY IF EXISTS ssh_key_audit_log_write_own ON public.ssh_key_audit_log;
--> statement-breakpoint
CREATE POLICY ssh_key_audit_log_write_own ON public.ssh_key_audit_log FOR INSERT TO authenticated
  WITH CHECK (user_id = auth.uid());
--> statement-breakpoint
REVOKE ALL ON public.user_ssh_keys, public.agents, public.vault_secrets, public.ssh_key_audit_log
  FROM anon, authenticated, service_role;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON public.user_ssh_keys, public.agents, public.vault_secrets
  TO authenticated, service_role;
--> statement-breakpoint
GRANT SELECT, INSERT ON public.ssh_key_audit_log TO authenticated, service_role;
--> statement-breakpoint
-- berth's embedded sign-in writes auth.users as service_role. On a Supabase project the
-- auth service owns that table and this grant may be refused, which is fine there.
DO $$
BEGIN
  GRANT SELECT, INSERT, UPDATE ON auth.users TO service_role;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'berth: auth.users is managed by the identity service';
END
$$;
--> statement-breakpoint
-- The audit log is append-only even for roles that own it: grants keep the
-- application's roles out, and this trigger refuses UPDATE and DELETE from anyone.
CREATE OR REPLACE FUNCTION public.berth_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ssh_key_audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS ssh_key_audit_log_append_only ON public.ssh_key_audit_log;
--> statement-breakpoint
CREATE TRIGGER ssh_key_audit_log_append_only BEFORE UPDATE OR DELETE ON public.ssh_key_audit_log
  FOR EACH ROW EXECUTE FUNCTION public.berth_refuse_audit_change();

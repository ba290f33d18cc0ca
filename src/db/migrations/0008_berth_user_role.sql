-- berth's user paths write as a role of their own, `berth_user`; `authenticated` reads.
--
-- On a Supabase project `authenticated` is also the role of every signed-in user of the
-- Data API, so whatever berth's user paths may write, any client holding a user's token
-- could write too, bypassing berth's checks: append audit rows about themselves, insert
-- a key row naming a ciphertext they had read before (and so download a private key a
-- second time), or set the size, region and image of their own environment. Migration
-- 0007 narrowed that; this closes it. berth's user transactions now switch to
-- `berth_user`, which row-level security holds to the user's own rows exactly as it held
-- `authenticated` (the same policies name both roles), and `authenticated` keeps only
-- SELECT on berth's tables: a Data API client sees its own rows and changes nothing.
-- `berth_user` cannot log in, and no client of the Data API can become it: PostgREST
-- takes the role from the signed token's `role` claim, which is `authenticated` for every
-- signed-in user, and may switch only to roles granted to its own login, which this
-- migration grants to berth's login alone.
--
-- Every statement can run twice: the role is created only if absent, grants are
-- re-stated after a REVOKE, ALTER POLICY sets the same list again and functions are
-- replaced.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'berth_user') THEN
    BEGIN CREATE ROLE berth_user NOLOGIN NOINHERIT; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END;
  END IF;
END
$$;
--> statement-breakpoint
-- As in 0000: berth's connection switches to the role per transaction, which needs
-- membership when it does not connect as a superuser.
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT berth_user TO %I', current_user);
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'berth: could not grant berth_user to %; grant it by hand', current_user;
END
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA auth, public TO berth_user;
--> statement-breakpoint
-- The policies that held `authenticated` to its own rows hold `berth_user` the same way.
-- Appending to the audit log is berth's alone.
ALTER POLICY user_ssh_keys_owner ON public.user_ssh_keys TO authenticated, berth_user;
--> statement-breakpoint
ALTER POLICY agents_owner ON public.agents TO authenticated, berth_user;
--> statement-breakpoint
ALTER POLICY vault_secrets_owner ON public.vault_secrets TO authenticated, berth_user;
--> statement-breakpoint
ALTER POLICY agent_droplets_owner ON public.agent_droplets TO authenticated, berth_user;
--> statement-breakpoint
ALTER POLICY ssh_key_audit_log_read_own ON public.ssh_key_audit_log TO authenticated, berth_user;
--> statement-breakpoint
ALTER POLICY ssh_key_audit_log_write_own ON public.ssh_key_audit_log TO berth_user;
--> statement-breakpoint
ALTER POLICY user_onboarding_read_own ON public.user_onboarding TO authenticated, berth_user;
--> statement-breakpoint
-- `authenticated` reads its own rows and writes none (a column grant goes with its table's).
REVOKE INSERT, UPDATE, DELETE ON public.user_ssh_keys, public.agents, public.vault_secrets,
  public.ssh_key_audit_log, public.agent_droplets FROM authenticated;
--> statement-breakpoint
-- `berth_user` gets what `authenticated` had after 0007: a key's name, download time and
-- DigitalOcean id are the only key columns it updates, and no vault secret is rewritten.
REVOKE ALL ON public.user_ssh_keys, public.agents, public.vault_secrets, public.ssh_key_audit_log,
  public.agent_droplets, public.user_onboarding FROM berth_user;
--> statement-breakpoint
GRANT SELECT, INSERT, DELETE ON public.user_ssh_keys, public.vault_secrets TO berth_user;
--> statement-breakpoint
GRANT UPDATE (key_name, private_key_downloaded_at, digitalocean_key_id, updated_at)
  ON public.user_ssh_keys TO berth_user;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE, DELETE ON public.agents, public.agent_droplets TO berth_user;
--> statement-breakpoint
GRANT SELECT, INSERT ON public.ssh_key_audit_log TO berth_user;
--> statement-breakpoint
GRANT SELECT ON public.user_onboarding TO berth_user;
--> statement-breakpoint
-- On a Supabase project, default privileges grant every new sequence in `public` to the
-- API roles. The rate ledger's would let `authenticated` move it with setval and so fail
-- every insert into the ledger, and with it every DigitalOcean call. An identity column
-- needs no privilege on its sequence to insert, so nobody but its owner needs any.
REVOKE ALL ON SEQUENCE public.do_api_calls_id_seq FROM anon, authenticated, berth_user;
--> statement-breakpoint
-- 0007's guards now hold berth's user paths too. `authenticated` can no longer write at
-- all; it stays named so that a grant restored by mistake meets the same guards.
CREATE OR REPLACE FUNCTION public.berth_guard_user_key_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_user IN ('authenticated', 'berth_user') AND OLD.private_key_downloaded_at IS NOT NULL
    AND NEW.private_key_downloaded_at IS DISTINCT FROM OLD.private_key_downloaded_at THEN
    RAISE EXCEPTION 'a private key''s download is recorded once and for good'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION public.berth_guard_user_environment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_user IN ('authenticated', 'berth_user') AND NEW.droplet_id IS NOT NULL
    AND (TG_OP = 'INSERT' OR NEW.droplet_id IS DISTINCT FROM OLD.droplet_id) THEN
    RAISE EXCEPTION 'only berth records which droplet an environment has'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF current_user IN ('authenticated', 'berth_user')
    AND NEW.deploy_tag !~ '^berth-deploy:[A-Za-z0-9_-]{16,}$' THEN
    RAISE EXCEPTION 'an environment''s deploy tag is one berth made'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;

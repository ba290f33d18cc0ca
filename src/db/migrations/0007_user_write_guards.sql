-- What a user may write directly, narrowed to what berth's user paths write. Row-level
-- security keeps each user to their own rows, but inside those rows the grants of 0002
-- and 0004 let `authenticated` change any column. berth's own code never abuses that;
-- the role is also the one a Supabase project's Data API uses for every signed-in user,
-- though, so there a user could have (a) cleared their key's download time and fetched
-- the private key again, defeating the one-time download, (b) pointed a new key row at
-- the vault secret of a key they had deleted, to the same end, or (c) written another
-- user's droplet id into their own environment and then asked berth to tear it down.
-- The guards below are the database's, so they hold whichever client writes.
--
-- Every statement can run twice: column grants are re-stated after a REVOKE, functions
-- are replaced, triggers and the index are dropped or created only if absent.

-- (a) Keys: a user may rename a key, mark its private half downloaded and record its
-- DigitalOcean id (the registration's record runs as the user); nothing else changes.
REVOKE UPDATE ON public.user_ssh_keys FROM authenticated;
--> statement-breakpoint
GRANT UPDATE (key_name, private_key_downloaded_at, digitalocean_key_id, updated_at)
  ON public.user_ssh_keys TO authenticated;
--> statement-breakpoint
-- Nor may a user rewrite a vault secret: re-wrapping is the service's (vault rotation).
REVOKE UPDATE ON public.vault_secrets FROM authenticated;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION public.berth_guard_user_key_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_user = 'authenticated' AND OLD.private_key_downloaded_at IS NOT NULL
    AND NEW.private_key_downloaded_at IS DISTINCT FROM OLD.private_key_downloaded_at THEN
    RAISE EXCEPTION 'a private key''s download is recorded once and for good'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS user_ssh_keys_guard_update ON public.user_ssh_keys;
--> statement-breakpoint
CREATE TRIGGER user_ssh_keys_guard_update BEFORE UPDATE ON public.user_ssh_keys
  FOR EACH ROW EXECUTE FUNCTION public.berth_guard_user_key_update();
--> statement-breakpoint
-- (b) A vault secret belongs to at most one key, and goes with it: deleting a key row,
-- through berth or not, deletes its secret in the same transaction, so no secret is left
-- behind for a new row to point at. Only a secret of the key's own user goes, and with
-- the rights of whoever deletes the key (SECURITY INVOKER, so row-level security applies):
-- the foreign key lets a row name any secret's id, the operator's DigitalOcean token's
-- included, and deleting the row must not delete that.
CREATE UNIQUE INDEX IF NOT EXISTS user_ssh_keys_private_key_secret_uq
  ON public.user_ssh_keys (private_key_secret_id);
--> statement-breakpoint
CREATE OR REPLACE FUNCTION public.berth_delete_key_secret() RETURNS trigger
LANGUAGE plpgsql SECURITY INVOKER AS $$
BEGIN
  IF OLD.private_key_secret_id IS NOT NULL THEN
    DELETE FROM public.vault_secrets WHERE id = OLD.private_key_secret_id AND owner_id = OLD.user_id;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS user_ssh_keys_delete_secret ON public.user_ssh_keys;
--> statement-breakpoint
CREATE TRIGGER user_ssh_keys_delete_secret AFTER DELETE ON public.user_ssh_keys
  FOR EACH ROW EXECUTE FUNCTION public.berth_delete_key_secret();
--> statement-breakpoint
-- (c) Environments: a user's path clears a droplet id (a failed deploy tried again) but
-- never sets one; only berth's service, which learnt it from DigitalOcean, does. A
-- teardown with no droplet id deletes by the deploy tag, so a user's write must also keep
-- the tag a deploy tag of berth's own shape (the unique index keeps it this record's own):
-- otherwise `berth` or `user:<someone>` would delete every droplet carrying it.
CREATE OR REPLACE FUNCTION public.berth_guard_user_environment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF current_user = 'authenticated' AND NEW.droplet_id IS NOT NULL
    AND (TG_OP = 'INSERT' OR NEW.droplet_id IS DISTINCT FROM OLD.droplet_id) THEN
    RAISE EXCEPTION 'only berth records which droplet an environment has'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF current_user = 'authenticated' AND NEW.deploy_tag !~ '^berth-deploy:[A-Za-z0-9_-]{16,}$' THEN
    RAISE EXCEPTION 'an environment''s deploy tag is one berth made'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS agent_droplets_guard_user_write ON public.agent_droplets;
--> statement-breakpoint
CREATE TRIGGER agent_droplets_guard_user_write BEFORE INSERT OR UPDATE ON public.agent_droplets
  FOR EACH ROW EXECUTE FUNCTION public.berth_guard_user_environment();

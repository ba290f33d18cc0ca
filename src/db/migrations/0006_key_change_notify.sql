-- Every change to a user's SSH keys is announced on the key-change bus, whoever makes it
-- and through whichever code path: the key service, the DigitalOcean registration that
-- records a key's id, the one-time download, or an operator's SQL. Each berth process
-- LISTENs on `berth_key_changes` and drops what it caches about that user (the deployment
-- keys and the key list, src/services/key-invalidation.ts). NOTIFY is transactional:
-- the notice goes out when the change commits, and not at all if it rolls back;
-- PostgreSQL folds identical notices of one transaction into one.
--
-- SECURITY INVOKER, and pg_notify needs no privilege: the trigger runs with the rights
-- of whoever changed the row. CREATE OR REPLACE and DROP TRIGGER IF EXISTS make a second
-- run change nothing.
CREATE OR REPLACE FUNCTION public.berth_announce_key_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('berth_key_changes', OLD.user_id::text);
  ELSIF TG_OP = 'UPDATE' AND OLD.digitalocean_key_id IS NULL AND NEW.digitalocean_key_id IS NOT NULL
    AND to_jsonb(OLD) - 'digitalocean_key_id' - 'updated_at'
      = to_jsonb(NEW) - 'digitalocean_key_id' - 'updated_at' THEN
    -- A key's first DigitalOcean id: news for the key lists, not for the deployment key
    -- caches, which hold only registered keys and are filled by the very deploy that
    -- registered this one (dropping its entry would make the user's next deploy cold).
    PERFORM pg_notify('berth_key_changes', NEW.user_id::text || ':registered');
  ELSE
    PERFORM pg_notify('berth_key_changes', NEW.user_id::text);
    -- A key moved to another user (no code path does this) is a change for both.
    IF TG_OP = 'UPDATE' AND OLD.user_id IS DISTINCT FROM NEW.user_id THEN
      PERFORM pg_notify('berth_key_changes', OLD.user_id::text);
    END IF;
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
DROP TRIGGER IF EXISTS user_ssh_keys_announce_change ON public.user_ssh_keys;
--> statement-breakpoint
CREATE TRIGGER user_ssh_keys_announce_change
  AFTER INSERT OR UPDATE OR DELETE ON public.user_ssh_keys
  FOR EACH ROW EXECUTE FUNCTION public.berth_announce_key_change();

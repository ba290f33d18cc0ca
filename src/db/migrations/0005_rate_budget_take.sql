-- The shared DigitalOcean rate budget's question, "may this token send one more request
-- now, and if not, how long until it may?", answered and recorded in one statement
-- (src/digitalocean/pg-rate-budget.ts). It was a transaction of seven round trips; every
-- DigitalOcean call asks it, so it is on every deploy's path.
--
-- Under a per-token advisory lock (held to the end of the caller's transaction, so two
-- processes never both take the last slot), one scan of the long window's rows counts
-- both windows. A window with `max` requests or more inside is full until the request
-- that keeps it full leaves it: in time order, the (count - max)th of the window's rows,
-- as src/digitalocean/client/rate-window.ts computes it for the in-memory budget. When
-- both windows have room the request is recorded, and granted is true. Each statement of
-- a PL/pgSQL function takes a fresh snapshot, so the count sees what the previous
-- holder of the lock committed.
--
-- SECURITY INVOKER: the caller runs as service_role (the only role granted the ledger
-- and this function). CREATE OR REPLACE and the grants make a second run change nothing.
CREATE OR REPLACE FUNCTION public.berth_take_do_call(
  p_token_id text,
  p_priority text,
  p_lock_key bigint,
  p_long_ms integer,
  p_long_max integer,
  p_short_ms integer,
  p_short_max integer,
  p_prune boolean,
  OUT granted boolean,
  OUT wait_ms double precision
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  now_at timestamptz;
  long_window interval := p_long_ms * interval '1 millisecond';
  short_window interval := p_short_ms * interval '1 millisecond';
  long_count integer;
  short_count integer;
  blocker timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(p_lock_key);
  now_at := clock_timestamp();
  SELECT count(*), count(*) FILTER (WHERE c.at > now_at - short_window)
    INTO long_count, short_count
    FROM public.do_api_calls c
    WHERE c.token_id = p_token_id AND c.at > now_at - long_window;
  wait_ms := 0;
  IF long_count >= p_long_max THEN
    SELECT c.at INTO blocker FROM public.do_api_calls c
      WHERE c.token_id = p_token_id AND c.at > now_at - long_window
      ORDER BY c.at OFFSET long_count - p_long_max LIMIT 1;
    wait_ms := greatest(wait_ms, extract(epoch FROM blocker + long_window - now_at) * 1000);
  END IF;
  IF short_count >= p_short_max THEN
    SELECT c.at INTO blocker FROM public.do_api_calls c
      WHERE c.token_id = p_token_id AND c.at > now_at - short_window
      ORDER BY c.at OFFSET short_count - p_short_max LIMIT 1;
    wait_ms := greatest(wait_ms, extract(epoch FROM blocker + short_window - now_at) * 1000);
  END IF;
  granted := long_count < p_long_max AND short_count < p_short_max;
  IF NOT granted THEN
    RETURN;
  END IF;
  -- The ledger is rate accounting, not a record anyone needs back: its commit need not
  -- wait for the disk (a committed row is visible to every process at once either way).
  -- A database crash may lose the last fraction of a second of rows, so the budget may
  -- undercount a few calls once, which DigitalOcean's own 429 and retry-after cover. The
  -- setting lasts to the end of the caller's transaction, which is why the caller runs
  -- this statement in a transaction of its own.
  PERFORM set_config('synchronous_commit', 'off', true);
  INSERT INTO public.do_api_calls (token_id, priority, at) VALUES (p_token_id, p_priority, clock_timestamp());
  -- Rows past the long window are never counted again; the caller asks for their removal
  -- now and then.
  IF p_prune THEN
    DELETE FROM public.do_api_calls c WHERE c.token_id = p_token_id AND c.at < clock_timestamp() - long_window;
  END IF;
END
$$;
--> statement-breakpoint
-- New functions are executable by PUBLIC, and on Supabase also by anon and authenticated
-- (its default privileges): only berth's service role may take from the budget.
REVOKE ALL ON FUNCTION public.berth_take_do_call(text, text, bigint, integer, integer, integer, integer, boolean)
  FROM PUBLIC, anon, authenticated;
--> statement-breakpoint
GRANT EXECUTE ON FUNCTION public.berth_take_do_call(text, text, bigint, integer, integer, integer, integer, boolean) TO service_role;

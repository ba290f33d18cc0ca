CREATE TABLE "agent_droplets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"status" text DEFAULT 'pending_creation' NOT NULL,
	"droplet_id" bigint,
	"name" text NOT NULL,
	"ip_address" text,
	"ssh_port" integer,
	"region" text NOT NULL,
	"size" text NOT NULL,
	"image" text NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"deploy_tag" text NOT NULL,
	"ssh_key_fingerprints" text[] DEFAULT '{}'::text[] NOT NULL,
	"used_fallback_keys" boolean DEFAULT false NOT NULL,
	"error_message" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"active_at" timestamp with time zone,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "agent_droplets_status_ck" CHECK (status in ('pending_creation', 'creating', 'active', 'error_creation', 'pending_deletion', 'deleting', 'deleted', 'error_deletion', 'unresponsive'))
);
--> statement-breakpoint
CREATE TABLE "auth_refresh_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"token_hash" text NOT NULL,
	"revoked" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "do_api_calls" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "do_api_calls_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"token_id" text NOT NULL,
	"priority" text NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_onboarding" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"error" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_onboarding_status_ck" CHECK (status in ('pending', 'generating', 'registering', 'ready', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "agent_droplets" ADD CONSTRAINT "agent_droplets_agent_id_agents_id_fk" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "agent_droplets" ADD CONSTRAINT "agent_droplets_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "auth_refresh_tokens" ADD CONSTRAINT "auth_refresh_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_onboarding" ADD CONSTRAINT "user_onboarding_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "agent_droplets_one_live_uq" ON "agent_droplets" USING btree ("agent_id") WHERE "agent_droplets"."status" <> 'deleted';--> statement-breakpoint
CREATE UNIQUE INDEX "agent_droplets_deploy_tag_uq" ON "agent_droplets" USING btree ("deploy_tag");--> statement-breakpoint
CREATE INDEX "agent_droplets_user_idx" ON "agent_droplets" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "agent_droplets_status_idx" ON "agent_droplets" USING btree ("status");--> statement-breakpoint
CREATE UNIQUE INDEX "auth_refresh_tokens_hash_uq" ON "auth_refresh_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "auth_refresh_tokens_session_idx" ON "auth_refresh_tokens" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "do_api_calls_token_at_idx" ON "do_api_calls" USING btree ("token_id","at");
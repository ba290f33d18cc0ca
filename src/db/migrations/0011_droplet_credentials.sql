CREATE TABLE "droplet_credentials" (
	"environment_id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"secret_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "agent_droplets" ADD COLUMN "login_access" text DEFAULT 'fixed' NOT NULL;--> statement-breakpoint
ALTER TABLE "droplet_credentials" ADD CONSTRAINT "droplet_credentials_environment_id_agent_droplets_id_fk" FOREIGN KEY ("environment_id") REFERENCES "public"."agent_droplets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "droplet_credentials" ADD CONSTRAINT "droplet_credentials_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "droplet_credentials_secret_hash_uq" ON "droplet_credentials" USING btree ("secret_hash");
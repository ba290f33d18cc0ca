CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"name" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ssh_key_audit_log" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid,
	"actor" text NOT NULL,
	"operation" text NOT NULL,
	"outcome" text NOT NULL,
	"ssh_key_id" uuid,
	"agent_id" uuid,
	"digitalocean_key_id" bigint,
	"request_id" text,
	"details" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "user_ssh_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"key_name" text DEFAULT 'default' NOT NULL,
	"algorithm" text NOT NULL,
	"source" text NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"public_key" text NOT NULL,
	"fingerprint_sha256" text NOT NULL,
	"fingerprint_md5" text NOT NULL,
	"digitalocean_key_id" bigint,
	"private_key_secret_id" uuid,
	"private_key_downloaded_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_ssh_keys_source_ck" CHECK ("user_ssh_keys"."source" in ('generated', 'imported')),
	CONSTRAINT "user_ssh_keys_secret_ck" CHECK (("user_ssh_keys"."source" = 'imported') = ("user_ssh_keys"."private_key_secret_id" is null))
);
--> statement-breakpoint
CREATE TABLE "vault_secrets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"owner_id" uuid,
	"name" text NOT NULL,
	"key_id" text NOT NULL,
	"wrapped_key" "bytea" NOT NULL,
	"nonce" "bytea" NOT NULL,
	"ciphertext" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_ssh_keys" ADD CONSTRAINT "user_ssh_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "user_ssh_keys" ADD CONSTRAINT "user_ssh_keys_private_key_secret_id_vault_secrets_id_fk" FOREIGN KEY ("private_key_secret_id") REFERENCES "public"."vault_secrets"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "agents_user_idx" ON "agents" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "ssh_key_audit_log_user_idx" ON "ssh_key_audit_log" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "user_ssh_keys_user_idx" ON "user_ssh_keys" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "user_ssh_keys_user_fingerprint_uq" ON "user_ssh_keys" USING btree ("user_id","fingerprint_sha256");--> statement-breakpoint
CREATE UNIQUE INDEX "user_ssh_keys_one_default_uq" ON "user_ssh_keys" USING btree ("user_id") WHERE "user_ssh_keys"."is_default";--> statement-breakpoint
CREATE INDEX "vault_secrets_key_id_idx" ON "vault_secrets" USING btree ("key_id");--> statement-breakpoint
CREATE INDEX "vault_secrets_owner_idx" ON "vault_secrets" USING btree ("owner_id");
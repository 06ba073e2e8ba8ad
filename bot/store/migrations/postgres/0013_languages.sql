-- Languages (issue 14): of a server's public messages, and of whoever asked for each job.
--   guild_settings.language  the Discord locale code moderators chose with /settings
--                            language (de, fr, es-ES, pt-BR, ja, en-US); NULL = the server's
--                            own Discord language (guild_locale)
--   generations.locale       the language the job's public messages are in, decided when
--                            it was reserved, so a result resumed after a restart is posted
--                            in the language its progress line was in. Rows from before
--                            this step were all English.
--   generations.member_locale  the Discord locale of the member who asked (their client's
--                            language), so what only they read about a job resumed after a
--                            restart (an ephemeral follow-up, a direct message, a private
--                            result) is in their language, not the server's. Rows from
--                            before this step were all English.
ALTER TABLE guild_settings ADD COLUMN language TEXT;
ALTER TABLE generations ADD COLUMN locale TEXT NOT NULL DEFAULT 'en-US';
ALTER TABLE generations ADD COLUMN member_locale TEXT NOT NULL DEFAULT 'en-US';

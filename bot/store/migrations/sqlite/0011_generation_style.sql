-- A generation remembers the server style it was made with (issue 13), so Re-roll,
-- Variations and Edit repeat it, and Info and /history name it, even after a moderator
-- changed or removed the style: the text is kept as it was sent.
--   style_name  the style's name as shown; NULL = no style
--   style_text  the text joined to the prompt sent to the API
ALTER TABLE generations ADD COLUMN style_name TEXT;
ALTER TABLE generations ADD COLUMN style_text TEXT;

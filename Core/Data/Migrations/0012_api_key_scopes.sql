-- What an API key may do (least privilege): each endpoint group requires one scope, reads and writes apart.
-- Keys made before scopes existed could do everything their owner could; they keep that (admin included, which
-- still needs the owner to be an administrator), so no integration breaks on upgrade. New keys name their scopes.
ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL
    DEFAULT ARRAY['chat', 'memories:read', 'memories:write', 'documents:read', 'documents:write', 'admin']::text[];
ALTER TABLE api_keys ALTER COLUMN scopes DROP DEFAULT;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_known CHECK (
    cardinality(scopes) > 0
    AND scopes <@ ARRAY['chat', 'memories:read', 'memories:write', 'documents:read', 'documents:write', 'admin']::text[]);

-- Listing images in the default (created_at, id) order: with id in the keys, ties need no sort and a marker is an
-- index seek, both for a project's own images and for the public ones.
DROP INDEX images_owner_created;
CREATE INDEX images_owner_created_id ON images (owner, created_at, id);
CREATE INDEX images_visibility_created_id ON images (visibility, created_at, id);

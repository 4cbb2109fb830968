-- Listing images reads the viewer's own images and the public ones as two index walks in (created_at, id) order, the
-- default sort, and merges the pages (ImageQueries.ListAsync). Without a visibility index the public half read every
-- image of every project; with id in the keys, neither half sorts ties and a marker is an index seek.
DROP INDEX images_owner_created;
CREATE INDEX images_owner_created_id ON images (owner, created_at, id);
CREATE INDEX images_visibility_created_id ON images (visibility, created_at, id);

-- Listing images walks the viewer's own images (images_owner_created) and the public ones (this index) in created_at
-- order and merges the two pages; without it the public half read every image of every project.
CREATE INDEX images_visibility_created ON images (visibility, created_at);

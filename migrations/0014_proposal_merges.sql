-- Merges in the proposals read model: a merged original points to where it went, and a proposal
-- lists the duplicates merged into it (links both ways; nothing is deleted).

ALTER TABLE proposals ADD COLUMN merged_into text;
ALTER TABLE proposals ADD COLUMN merged_from text[] NOT NULL DEFAULT '{}';
ALTER TABLE proposals ADD COLUMN merged_beneficiaries integer NOT NULL DEFAULT 0;

-- Carry-over (issue 12): a proposal not accommodated in its year can be proposed again for a later year.
-- `carried_from` links the new proposal to the earlier one; `first_year` and `times` are the chain's, so
-- queues and the equity view can say how long a need has waited without walking the chain.

ALTER TABLE proposals ADD COLUMN carried_from text;
ALTER TABLE proposals ADD COLUMN carried_to text;
ALTER TABLE proposals ADD COLUMN first_year integer;
ALTER TABLE proposals ADD COLUMN times integer NOT NULL DEFAULT 1;
UPDATE proposals SET first_year = year WHERE first_year IS NULL;
ALTER TABLE proposals ALTER COLUMN first_year SET NOT NULL;
CREATE INDEX proposals_carried_from ON proposals (carried_from) WHERE carried_from IS NOT NULL;

-- Personal data (UU 27/2022 PDP): proposers' names and phone numbers, in their own table keyed by a
-- reference that the ProposalSubmitted event carries instead of the data itself. Never read by a
-- projection, a public page, a public export or a log line. Deleting a row erases the person.

CREATE TABLE proposer_contacts (
    ref           uuid PRIMARY KEY,
    proposal_code text NOT NULL,
    name          text NOT NULL,
    phone         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX proposer_contacts_proposal ON proposer_contacts (proposal_code);

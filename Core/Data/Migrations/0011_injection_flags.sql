-- Instruction-like content found in stored text (role markers, "ignore previous instructions", tool-call look-alikes,
-- hidden text, claims of privilege), named as PromptInjection.Names writes them. A memory with flags was written as
-- given (infer=false) and is never shown to the model; a chunk with flags is quoted or left out at retrieval.
ALTER TABLE memories ADD COLUMN injection_flags text[] NOT NULL DEFAULT '{}';
ALTER TABLE document_chunks ADD COLUMN injection_flags text[] NOT NULL DEFAULT '{}';

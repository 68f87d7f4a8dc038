-- Documents accept PDF (text layer read with PdfPig; chunks carry their page in metadata->'page').
ALTER TABLE documents DROP CONSTRAINT documents_format_check;
ALTER TABLE documents ADD CONSTRAINT documents_format_check CHECK (format IN ('txt', 'md', 'html', 'docx', 'pdf'));

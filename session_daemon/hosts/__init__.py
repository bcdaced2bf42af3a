"""Session hosts: one supervised child process per account holds its WhatsApp session."""

"""Docker-free local runner: template.yaml's API routes on 127.0.0.1 with embedded backends."""

-- wrk script: POST /v1/preauth with the bench server's API token.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("MFA_BENCH_TOKEN")
wrk.body = '{"user":"tux","host":"linux.example.org","service":"sshd","client_ip":"192.0.2.1"}'

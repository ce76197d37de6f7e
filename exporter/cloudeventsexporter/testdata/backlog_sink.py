# A sink as a Python user writes one: the standard library's http.server,
# single-threaded, with socketserver's default listen backlog of 5. It
# answers 202 to every POST and counts them; GET /count says how many.
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

received = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global received
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        received += 1
        self.send_response(202)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def do_GET(self):
        body = str(received).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == '__main__':
    server = HTTPServer(('127.0.0.1', int(sys.argv[1])), Handler)
    assert server.request_queue_size == 5
    server.serve_forever()

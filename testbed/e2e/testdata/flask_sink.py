# The example sink of the NVSentinel event-exporter documentation
# (shared/seeds/000_8cecc4f628dbaf31.txt, "Example Sink Implementation"):
# receive_event below is the seed's code as written. Around it: the Flask
# app, process_health_event (the seed leaves it to the reader; here it
# records what arrived) and GET /received for the test.
import sys
import threading

from flask import Flask, request

app = Flask(__name__)
received = []
lock = threading.Lock()


def process_health_event(health_event):
    event = request.json
    with lock:
        received.append({
            "event": event,
            "authorization": request.headers.get('Authorization'),
            "content_type": request.content_type,
        })


@app.route('/api/v1/events', methods=['POST'])
def receive_event():
    # Verify Bearer token
    auth_header = request.headers.get('Authorization')
    if not auth_header or not auth_header.startswith('Bearer '):
        return {'error': 'Unauthorized'}, 401
    
    # Verify Content-Type
    if request.content_type != 'application/cloudevents+json':
        return {'error': 'Unsupported Media Type'}, 415
    
    # Parse CloudEvent
    event = request.json
    if event.get('specversion') != '1.0':
        return {'error': 'Unsupported CloudEvents version'}, 400
    
    # Process event
    process_health_event(event['data']['healthEvent'])
    
    return {'status': 'accepted'}, 202


@app.route('/received', methods=['GET'])
def get_received():
    with lock:
        return {'events': list(received)}


if __name__ == '__main__':
    app.run(host='127.0.0.1', port=int(sys.argv[1]), threaded=True)

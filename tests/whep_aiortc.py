#!/usr/bin/env python3
"""An independent WHEP player: aiortc (Debian's python3-aiortc), written from docs/api.md.

Usage: whep_aiortc.py URL TOKEN [FRAMES]
POSTs an offer (aiortc gathers its candidates first, so no PATCH is needed), plays the
answer, decodes FRAMES video frames, reads the pixel clock off each (the top H/18 rows:
64 cells, white, black, 48 bits of unix ms, 8 check bits), DELETEs the session and prints
one JSON line: frames, width, height, first_frame_ms, clocks (the decoded times).
"""

import asyncio
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from aiortc import RTCPeerConnection, RTCSessionDescription


def pixel_clock(gray):
    h, w = gray.shape
    strip = max(4, h // 18)
    rows = gray[strip // 4 : strip // 4 + max(1, strip // 2)]

    def cell(i):
        x0 = int((i + 0.25) * w / 64)
        x1 = max(x0 + 1, int((i + 0.75) * w / 64))
        return float(rows[:, x0:x1].mean())

    white, black = cell(0), cell(1)
    if white - black < 60:
        return None
    mid = (white + black) / 2
    t = 0
    for i in range(48):
        t = t * 2 + (1 if cell(2 + i) > mid else 0)
    check = 0
    for i in range(8):
        check = check * 2 + (1 if cell(50 + i) > mid else 0)
    x = 0x5A
    for b in t.to_bytes(6, "big"):
        x ^= b
    return t if x == check else None


def request(method, url, token, body=None, content_type=None):
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


async def main(url, token, want):
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    got_track = asyncio.get_running_loop().create_future()

    @pc.on("track")
    def on_track(track):
        if track.kind == "video" and not got_track.done():
            got_track.set_result(track)

    start = time.monotonic()
    await pc.setLocalDescription(await pc.createOffer())
    status, headers, body = await asyncio.to_thread(
        request, "POST", url, token, pc.localDescription.sdp.encode(), "application/sdp"
    )
    if status != 201:
        print(json.dumps({"error": status, "body": body.decode(errors="replace")}))
        return 1
    location = urllib.parse.urljoin(url, headers.get("Location"))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=body.decode(), type="answer"))
    track = await asyncio.wait_for(got_track, 20)
    frames, clocks, first_ms, size = 0, [], None, (0, 0)
    while frames < want:
        frame = await asyncio.wait_for(track.recv(), 20)
        if first_ms is None:
            first_ms = (time.monotonic() - start) * 1000
        frames += 1
        size = (frame.width, frame.height)
        t = pixel_clock(frame.to_ndarray(format="gray"))
        if t is not None:
            clocks.append(t)
    deleted, _, _ = await asyncio.to_thread(request, "DELETE", location, token)
    await pc.close()
    print(
        json.dumps(
            {
                "frames": frames,
                "width": size[0],
                "height": size[1],
                "first_frame_ms": first_ms,
                "clocks": clocks,
                "deleted": deleted,
            }
        )
    )
    return 0


if __name__ == "__main__":
    want = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2], want)))

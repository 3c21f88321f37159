#!/usr/bin/python3
"""make_seeds.py - writes the committed seed corpora of the fuzz harnesses
(tests/fuzz/corpus/<harness>/) from synthetic data only: no FER2013 row and
no dataset image ever goes into the repository. Each seed starts with the
harness's mode byte(s) (see the harness's header comment). Run it again
after changing the file formats: /usr/bin/python3 tests/fuzz/make_seeds.py"""
import gzip, os, struct, zlib
import numpy as np
import cv2

HERE = os.path.dirname(os.path.abspath(__file__))

def put(harness, name, data):
    d = os.path.join(HERE, 'corpus', harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data)

def csv_seeds():
    pix = ' '.join(str((i * 7) % 256) for i in range(48 * 48))
    rows = 'emotion,pixels,Usage\n' + ''.join(f'{k},{pix},{u}\n' for k, u in
                                              [(0, 'Training'), (3, 'PublicTest'), (6, 'PrivateTest')])
    put('csv', 'plain', b'\x00\x00' + rows.encode())
    put('csv', 'gzip', b'\x01\x00' + rows.encode())          # the harness compresses it
    put('csv', 'crlf_bom', b'\x00\x04' + ('\ufeff' + rows.replace('\n', '\r\n')).encode())
    put('csv', 'no_usage', b'\x00\x00' + ('emotion,pixels\n2,' + pix + '\n').encode())
    put('csv', 'bad_rows', b'\x00\x04emotion,pixels,Usage\n9,1 2 3,Training\n1,' + pix.encode() + b',Nope\n')
    put('csv', 'real_gzip', b'\x00\x00' + gzip.compress(rows.encode()))   # zlib fed as is

def image_seeds():
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    rgb = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    for mode, (name, img, ext, params) in enumerate([
            ('gray.png', gray, '.png', []), ('rgb.png', rgb, '.png', []),
            ('gray.jpg', gray, '.jpg', [cv2.IMWRITE_JPEG_QUALITY, 80]),
            ('rgb.jpg', rgb, '.jpg', [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])]):
        ok, buf = cv2.imencode(ext, img, params)
        assert ok
        put('image', name, bytes([mode]) + buf.tobytes())
    # a JPEG with an EXIF APP1 segment (orientation 6), little endian TIFF
    ok, buf = cv2.imencode('.jpg', rgb)
    b = buf.tobytes()
    tiff = b'II*\x00' + struct.pack('<I', 8) + struct.pack('<H', 1) + struct.pack('<HHII', 0x0112, 3, 1, 6) + b'\x00' * 4
    app1 = b'Exif\x00\x00' + tiff
    exif = b'\xff\xe1' + struct.pack('>H', len(app1) + 2) + app1
    put('image', 'exif6.jpg', b'\x03' + b[:2] + exif + b[2:])
    # a PNG header claiming 100000 x 100000 pixels (a decompression bomb's header)
    ihdr = struct.pack('>IIBBBBB', 100000, 100000, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    put('image', 'bomb.png', b'\x01\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IEND', b''))

def model_file(spec, size, ckpt):
    """A version-1 file of `spec` (input size x size), in file order."""
    # parameter count of the tiny specs used here: conv2 relu pool flatten dense7 / + bn
    c = 2
    nconv = c * 1 * 9 + c
    nbn = 2 * c if ' bn' in spec else 0
    flat = c * (size // 2) * (size // 2)
    ndense = 7 * flat + 7
    npar = nconv + nbn + ndense
    nstate = 2 * c if nbn else 0
    def ch(tag, payload):
        return tag + struct.pack('<Q', len(payload)) + payload
    def floats(vals):
        return struct.pack('<Q', len(vals)) + struct.pack(f'<{len(vals)}f', *vals)
    par = [((i * 13) % 17 - 8) / 40.0 for i in range(npar)]
    st = [0.0] * (nstate // 2) + [1.0] * (nstate // 2)
    labels = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral']
    labl = struct.pack('<I', 7) + b''.join(bytes([len(l)]) + l.encode() for l in labels)
    hist = struct.pack('<I', 1) + struct.pack('<i6f', 1, 1.9, 0.2, 1.8, 0.25, 1e-3, 2.5)
    body = (ch(b'ARCH', b'custom') + ch(b'SPEC', spec.encode()) + ch(b'INPT', struct.pack('<3I', 1, size, size)) +
            ch(b'LABL', labl) + ch(b'PREP', struct.pack('<2I', size, 0)) +
            ch(b'NORM', struct.pack('<3f', 1 / 255, 0, 1)) + ch(b'PARM', floats(par)) + ch(b'STAT', floats(st)) +
            ch(b'HIST', hist) + ch(b'HSTF', struct.pack('<If', 1, 0.2)) + ch(b'RCPE', b'ferc train --fuzz-seed'))
    if ckpt:
        trst = struct.pack('<i', 1) + struct.pack('<4Q', 1, 2, 3, 4) + struct.pack('<fiq', 0.25, 1, 10)
        body += (ch(b'TRST', trst) + ch(b'OPTM', floats([0.0] * npar)) + ch(b'OPTV', floats([0.0] * npar)) +
                 ch(b'BSTP', floats(par)) + ch(b'BSTS', floats(st)))
    data = b'FERCMODL' + struct.pack('<II', 1, 1 if ckpt else 0) + body
    return data + struct.pack('<I', zlib.crc32(data))

def model_seeds():
    m = model_file('conv2 relu pool flatten dense7', 8, False)
    put('model', 'model', b'\x01' + m)
    put('model', 'model_bn', b'\x01' + model_file('conv2 bn relu pool flatten dense7', 8, False))
    put('model', 'ckpt', b'\x03' + model_file('conv2 relu pool flatten dense7', 8, True))
    put('model', 'ckpt_raw', b'\x02' + model_file('conv2 bn relu pool flatten dense7', 8, True))
    name = b'member.ferc'
    ensm = struct.pack('<IIff', 2, 0, 0.0, 0.0)
    for w in (0.5, 0.5):
        ensm += struct.pack('<I', len(name)) + name + struct.pack('<f', w) + struct.pack('<Q', len(m)) + m
    body = b'ARCH' + struct.pack('<Q', 8) + b'ensemble' + b'ENSM' + struct.pack('<Q', len(ensm)) + ensm
    data = b'FERCMODL' + struct.pack('<II', 2, 0) + body
    put('model', 'ensemble', b'\x01' + data + struct.pack('<I', zlib.crc32(data)))

NEW = '''<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier">
  <stageType>BOOST</stageType><featureType>HAAR</featureType><height>4</height><width>4</width>
  <stageParams><maxWeakCount>2</maxWeakCount></stageParams>
  <featureParams><maxCatCount>0</maxCatCount></featureParams>
  <stageNum>1</stageNum>
  <stages>
    <_><maxWeakCount>2</maxWeakCount><stageThreshold>0.5</stageThreshold>
      <weakClassifiers>
        <_><internalNodes>0 -1 0 -1.0e+09</internalNodes><leafValues>0. 1.</leafValues></_>
        <_><internalNodes>0 -1 1 0.01</internalNodes><leafValues>-0.5 0.5</leafValues></_>
      </weakClassifiers></_>
  </stages>
  <features>
    <_><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects></_>
    <_><rects><_>0 0 4 2 -1.</_><_>0 2 4 2 1.</_></rects><tilted>0</tilted></_>
  </features>
</cascade>
</opencv_storage>
'''
OLD = '''<?xml version="1.0"?>
<opencv_storage>
<tiny type_id="opencv-haar-classifier">
  <size>4 4</size>
  <stages>
    <_>
      <trees>
        <_>
          <_>
            <feature><rects><_>0 0 4 4 -1.</_><_>0 0 2 4 2.</_></rects><tilted>0</tilted></feature>
            <threshold>-1.0e+09</threshold><left_val>0.</left_val><right_val>1.</right_val></_></_></trees>
      <stage_threshold>0.5</stage_threshold><parent>-1</parent><next>-1</next></_>
  </stages>
</tiny>
</opencv_storage>
'''

def cascade_seeds():
    put('cascade', 'new.xml', NEW.encode())
    put('cascade', 'old.xml', OLD.encode())

def spec_seeds():
    for i, s in enumerate(['conv32 bn relu pool drop0.25 conv64 bn relu pool flatten dense128 relu dense7',
                           'conv8k5 relu pool flatten dense16 bn relu drop0.5 dense7',
                           'conv4 relu pool flatten dense7', 'conv16s2 relu gap dense7',
                           'res16 res32s2 gap dense7', 'flatten dense7']):
        put('spec', f'spec{i}', bytes([40 + i]) + s.encode())

def augment_seeds():
    opts = ['zoom=0.3', 'fill=nearest', 'flip', 'rotation=10', 'shift=0.1,0.2', 'brightness=0.8,1.2',
            'contrast=0.2', 'erase=0.5', 'erase_scale=0.02,0.33', 'erase_ratio=0.3,3.3', 'erase_value=random',
            'crop', 'preset=fer', 'interp=nearest', 'cval=0.5', 'zoom_same=1']
    put('augment', 'options', b'\x00' + '\n'.join(opts).encode())
    put('augment', 'config', b'\x01' + ('# a config\n' + '\n'.join(o.replace('=', ' = ') for o in opts[:8]) + '\n').encode())


def folder_seeds():
    """ROOT/<label>/<file> records (see fuzz_folder.c): labels by name and by
    digit, PNG and JPEG, a file that is not an image, an unknown folder."""
    rng = np.random.default_rng(2)
    png = cv2.imencode('.png', rng.integers(0, 256, (20, 20), dtype=np.uint8))[1].tobytes()
    jpg = cv2.imencode('.jpg', rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))[1].tobytes()
    def rec(d, f, content):
        return bytes([len(d)]) + d + bytes([len(f)]) + f + struct.pack('<H', len(content)) + content
    put('folder', 'two', rec(b'happy', b'a.png', png) + rec(b'3', b'b.jpg', jpg))
    put('folder', 'mixed', rec(b'Sad', b'x.PNG', png) + rec(b'sad', b'notes.txt', b'hello') +
        rec(b'cats', b'c.png', png) + rec(b'neutral', b'broken.jpg', jpg[:40]))

if __name__ == '__main__':
    csv_seeds(); image_seeds(); model_seeds(); cascade_seeds(); spec_seeds(); augment_seeds(); folder_seeds()

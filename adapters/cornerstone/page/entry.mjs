// The page's code: Cornerstone3D's own path from a DICOM file to pixels (wadouri loader, CPU renderer),
// exposed as window.dcmhRender for driver.mjs. Bundled by build.mjs into build/page.js.
import { init as coreInit, imageLoader, cache, metaData, utilities } from '@cornerstonejs/core';
import { init as loaderInit } from '@cornerstonejs/dicom-image-loader';

let ready = null;

async function setUp() {
  await coreInit({ rendering: { useCPURendering: true } });
  loaderInit({ maxWebWorkers: 1, wasmBasePath: new URL('./wasm/', window.location.href).href });
}

// imageId: wadouri:<url>[&frame=N]; window: [center, width] or null. Answers RGB bytes (base64).
window.dcmhRender = async function dcmhRender(request) {
  ready = ready || setUp();
  await ready;
  cache.purgeCache();
  // Cornerstone's own "image to canvas" helper (utilities.loadImageToCanvas, the CPU renderer): it marks the
  // loader's pre-scaled (modality) values as such before drawing, as its StackViewport does. The image is
  // loaded first with the helper's own load options, to size the canvas 1:1.
  const imageId = request.imageId;
  const image = await imageLoader.loadAndCacheImage(imageId, { useRGBA: true, requestType: 'thumbnail' });
  if (request.colormap) {
    image.colormap = request.colormap; // getDefaultViewport takes the image's colormap: the pseudo-colour path
  }
  const canvas = document.createElement('canvas');
  canvas.width = image.columns;
  canvas.height = image.rows;
  await utilities.loadImageToCanvas({ canvas, imageId, useCPURendering: true });
  if (request.window) {
    // an explicit window, set where a viewer's VOI lands on the image (getDefaultViewport reads it)
    image.windowCenter = request.window[0];
    image.windowWidth = request.window[1];
    image.voiLUTFunction = 'LINEAR';
    const { modality } = metaData.get('generalSeriesModule', imageId) || {};
    await utilities.renderToCanvasCPU(canvas, image, modality);
  }
  const rgba = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const n = canvas.width * canvas.height;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[3 * i] = rgba[4 * i];
    rgb[3 * i + 1] = rgba[4 * i + 1];
    rgb[3 * i + 2] = rgba[4 * i + 2];
  }
  let binary = '';
  for (let i = 0; i < rgb.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, rgb.subarray(i, i + 0x8000));
  }
  return {
    width: canvas.width,
    height: canvas.height,
    color: Boolean(image.color),
    windowCenter: image.windowCenter ?? null,
    windowWidth: image.windowWidth ?? null,
    debug: { isPreScaled: image.isPreScaled ?? null, preScale: image.preScale ?? null, slope: image.slope,
      intercept: image.intercept, min: image.minPixelValue, max: image.maxPixelValue,
      voiLUTFunction: image.voiLUTFunction ?? null, rgba: image.rgba ?? null, comps: image.numberOfComponents ?? null,
      data: Array.from(image.voxelManager.getScalarData().slice(0, 12)), len: image.voxelManager.getScalarData().length,
      type: image.voxelManager.getScalarData().constructor.name },
    pixels: btoa(binary),
  };
};
// decode: the loader's decoded frame without its modality pre-scaling ({preScale: {enabled: false}}) and
// without RGBA (useRGBA false): getPixelData() as the loader hands it to a viewer. Answers the typed array's
// bytes (base64, little-endian as the page's platform), its type name and the image's geometry.
window.dcmhDecode = async function dcmhDecode(request) {
  ready = ready || setUp();
  await ready;
  cache.purgeCache();
  const image = await imageLoader.loadAndCacheImage(request.imageId, { useRGBA: false, preScale: { enabled: false } });
  const data = image.getPixelData();
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return {
    rows: image.rows,
    columns: image.columns,
    color: Boolean(image.color),
    components: image.numberOfComponents ?? null,
    photometric: image.photometricInterpretation ?? null,
    isPreScaled: image.isPreScaled ?? null,
    type: data.constructor.name,
    values: btoa(binary),
  };
};
window.dcmhReady = true;

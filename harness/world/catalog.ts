import type { GeoPoint } from '../../shared';

/** Regions the simulation knows by name, with the coordinates of the cloud regions they stand for. */
export const REGION_CATALOG: Record<string, GeoPoint> = {
  'us-east': { lat: 38.9, lon: -77.0 },
  'eu-west': { lat: 53.3, lon: -6.3 },
  'ap-southeast': { lat: 1.35, lon: 103.8 },
  'us-west': { lat: 45.6, lon: -121.2 },
  'sa-east': { lat: -23.5, lon: -46.6 },
  'eu-central': { lat: 50.1, lon: 8.7 },
  'ap-northeast': { lat: 35.7, lon: 139.7 },
  'ap-south': { lat: 19.1, lon: 72.9 },
  'af-south': { lat: -33.9, lon: 18.4 },
  'au-southeast': { lat: -33.9, lon: 151.2 },
};

export const DEFAULT_REGIONS = ['us-east', 'eu-west', 'ap-southeast'];

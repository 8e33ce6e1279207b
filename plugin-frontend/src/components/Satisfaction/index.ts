export { Satisfaction, FeedbackComments, Distribution } from './Satisfaction';

export { ApprovalContent, ApprovalPage, ApprovalRequestCard, PendingApprovals } from './ApprovalPage';
